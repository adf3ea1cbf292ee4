"""What the author wrote: articles, bundles, snippet references, traces and the heading check.

Nothing here runs code or knows about MkDocs: these modules read, validate and describe.
"""
