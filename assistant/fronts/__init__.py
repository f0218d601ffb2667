"""Front ends (CLI, HTTP + OpenAI API, web UI, Slack): parse input, call the core, format output.

They import only the core's public surface: ``assistant.app``, ``assistant.types``,
``assistant.errors`` and ``assistant.settings``.
"""
