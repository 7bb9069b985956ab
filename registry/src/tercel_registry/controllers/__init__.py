"""The registry's route handlers, one controller per part of the API."""

from .catalog import CatalogController
from .files import FilesController
from .pages import PagesController
from .simple import SimpleController
from .upload import UploadController

__all__ = ["CatalogController", "FilesController", "PagesController", "SimpleController", "UploadController"]
