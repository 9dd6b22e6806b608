# neutron_schema.py DB_URL: create neutron's schema from its models and stamp
# the alembic heads (= "neutron-db-manage upgrade heads" result, without the
# slow migration chain and without a second process). Neutron's own tests keep
# the models and migrations in sync.
import os
import sys

import sqlalchemy
from neutron.db.migration.models import head  # imports every neutron model
import neutron.db.migration

engine = sqlalchemy.create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
vdir = os.path.join(os.path.dirname(neutron.db.migration.__file__),
                    'alembic_migrations', 'versions')
heads = []
for f in ('EXPAND_HEAD', 'CONTRACT_HEAD'):
    with open(os.path.join(vdir, f)) as fh:
        heads.append(fh.read().strip())
with engine.begin() as c:
    c.execute(sqlalchemy.text(
        'CREATE TABLE alembic_version '
        '(version_num VARCHAR(32) NOT NULL PRIMARY KEY)'))
    for h in heads:
        c.execute(sqlalchemy.text('INSERT INTO alembic_version VALUES (:v)'),
                  {'v': h})
engine.dispose()
print('neutron schema created, heads', heads)
