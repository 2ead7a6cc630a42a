"""Game-day drills: drill files (chaos/drills/*.yaml) parsed into a typed model (model.py,
loader.py), run on a DrillSession with a journal and a verdict (runner.py), from the CLI
(``alertdrill drill``: command.py). incident_response.py is the seed drill in Python, kept
for the external-stack test and the drill-latency benchmark."""
