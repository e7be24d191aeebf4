"""The Pipecat side of the server: per-session pipelines and the services of each profile."""

from pipeline_manager.services import ServiceFactory, create_service_factory
from pipeline_manager.session_pipeline import SessionPipeline

__all__ = ["ServiceFactory", "SessionPipeline", "create_service_factory"]
