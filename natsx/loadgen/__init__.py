"""`natsx bench`: a load generator that speaks like `nats bench`, with a Cython hot loop."""
