"""Runtime: Plan, executor, devices and Session. Loading an artifact needs nothing else."""
