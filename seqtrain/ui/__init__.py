"""What people see: the progress display, result tables and plots."""
