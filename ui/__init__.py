"""rag.ui: the Gradio app (`newsrag serve`): Chat, Summarise, Library and Eval over rag.Pipeline.

app.py builds and launches it; one module per tab (chat, summarise, library, evaluation),
render.py turns answers into markdown/HTML, viewer.py opens a cited article at its quote, and
load.py is the load test (`python -m rag.ui.load`).
"""
