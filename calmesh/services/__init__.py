"""Services own the rules: each change is one atomic function used by REST, pages and CLI."""
