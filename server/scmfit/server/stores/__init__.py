"""What the server keeps: fitted models (signed, on disk) and uploaded datasets."""
