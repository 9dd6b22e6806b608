# nova_init.py NOVA_CONF CELL0_DB_URL
# = nova-manage api_db sync; cell_v2 map_cell0; cell_v2 create_cell --name
# cell1; db sync -- in ONE python process (each nova-manage run costs ~5 s of
# imports).
import sys

from nova.cmd import manage
from nova import config, objects
from nova.conf import CONF

conf, cell0 = sys.argv[1:3]
CONF.register_cli_opts([manage.category_opt, manage.post_mortem_opt])
config.parse_args(['nova-manage', '--config-file', conf, 'db', 'version'])
objects.register_all()
for name, fn in (
        ('api_db sync', lambda: manage.ApiDbCommands().sync()),
        ('cell_v2 map_cell0',
         lambda: manage.CellV2Commands().map_cell0(database_connection=cell0)),
        ('cell_v2 create_cell',
         lambda: manage.CellV2Commands().create_cell(name='cell1')),
        ('db sync', lambda: manage.DbCommands().sync())):
    ret = fn()
    print(name, '->', ret, flush=True)
    if ret not in (None, 0):
        sys.exit('%s failed (%s)' % (name, ret))
