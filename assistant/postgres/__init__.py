"""PostgreSQL backends (``database_url``): catalog and queue, keyword index, chat sessions.

Chosen by assistant/backends.py; needs the ``postgres`` extra (psycopg 3). The tables live in
the schema ``assistant`` and are created by ``assistant db upgrade`` (schema.py).
"""
