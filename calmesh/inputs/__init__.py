"""Every resource's input, declared once (with :mod:`calmesh.schema`).

One module per resource. The REST API parses bodies and queries with these
objects and describes them in the OpenAPI document; the pages' forms
(:func:`calmesh.web.forms.parse_form`), the MCP tools' parameters
(:func:`calmesh.mcp.common.like`) and the services take the same ones. Nothing
here imports Flask, a service or a layer above: only the schema and the
models' constants.
"""
