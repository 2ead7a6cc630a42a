"""Built-in drills runnable from the CLI (`alertdrill drill`)."""
