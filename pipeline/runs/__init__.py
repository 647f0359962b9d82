"""A run end to end: the runner that drives the stages per job, the writer and reader of the
run folder's artifacts, resume, batch runs, cost estimates and metrics."""
