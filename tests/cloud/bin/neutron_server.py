# neutron-server for tests/cloud/up.
# Import every model and configure the SQLAlchemy mappers BEFORE the API
# worker forks. Zed's get_ports() reads Port.port_forwardings, a backref that
# only exists once the mappers are configured; in a fresh worker whose first
# request is GET /v2.0/ports (exactly what nova sends) that would be a 500
# "type object 'Port' has no attribute 'port_forwardings'".
import sys

sys.argv[0] = 'neutron-server'
from neutron.cmd.eventlet.server import main  # noqa: E402 (monkey-patches first)
from neutron.db.migration.models import head  # noqa: E402,F401 (every model)
import sqlalchemy.orm  # noqa: E402

sqlalchemy.orm.configure_mappers()
sys.exit(main())
