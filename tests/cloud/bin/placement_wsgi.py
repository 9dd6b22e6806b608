# WSGI entry point for placement under gunicorn (tests/cloud/up); hides
# gunicorn's argv from oslo.config like keystone_wsgi.py. The config comes
# from OS_PLACEMENT_CONFIG_DIR.
import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
from placement.wsgi import init_application  # noqa: E402

application = init_application()
sys.argv = _argv
