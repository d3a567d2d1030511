"""Tables, plots and result files of a run."""
