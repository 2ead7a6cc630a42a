"""Stacks: the monitoring chain and the service under drill, started and torn down."""
