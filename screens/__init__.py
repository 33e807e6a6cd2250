"""Textual screens and widgets. Screens call console services (in worker threads), never SQL."""
