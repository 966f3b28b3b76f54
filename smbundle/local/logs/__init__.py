"""CloudWatch Logs of the embedded AWS: what its services write, as the role that writes it on AWS."""
