"""In-process access to the embedded S3 (moto's backend), for executors that run inside the embedded AWS."""
