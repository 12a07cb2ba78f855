"""Job specs (``fireworks/*.yaml``) that run on the local machine or on a Ray cluster."""
