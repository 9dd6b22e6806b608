# WSGI entry point for keystone under gunicorn (tests/cloud/up).
# keystone parses sys.argv with oslo.config while the app is built, and would
# choke on gunicorn's own arguments ("unrecognized arguments: --chdir ...").
# Hide them meanwhile. The config comes from OS_KEYSTONE_CONFIG_FILES.
import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
from keystone.server.wsgi import initialize_public_application  # noqa: E402

application = initialize_public_application()
sys.argv = _argv
