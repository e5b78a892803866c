"""Background work: the scheduler and the jobs it runs.

Job functions take no request context, are idempotent, can be run from the
CLI, and claim their work through leases in the database before doing it.
"""
