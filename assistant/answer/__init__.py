"""Ranked passages to a cited answer: extractive or LLM-written and verified; conversations."""
