"""newsrag: ask news articles questions; every sentence of the answer tied to a quoted source."""

from rag.errors import ConfigError, IndexStoreError, LoadError, ModelError, NewsragError
from rag.pipeline import IngestReport, Pipeline
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Document, Filters, Hit, Query, Sentence, Summary

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Document",
    "Filters",
    "Hit",
    "IndexStoreError",
    "IngestReport",
    "LoadError",
    "ModelError",
    "NewsragError",
    "Pipeline",
    "Query",
    "Sentence",
    "Settings",
    "Summary",
]
__version__ = "0.1.0"
