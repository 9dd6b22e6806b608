# mkcatalog.py: projects, users, roles, services, endpoints and the demo
# user's application credential, in one python process (tests/cloud/up).
# Input (environment): OSR_H, OSR_PW, OSR_P_{KEYSTONE,GLANCE,PLACEMENT,
# NEUTRON,NOVA}, OSR_APPCRED_NAME, OSR_APPCRED_OUT (a JSON file, written 0600
# with the credential's id, name and secret).
import json
import os
import secrets

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

env = os.environ
H, PW = env['OSR_H'], env['OSR_PW']
KS_URL = 'http://%s:%s/v3' % (H, env['OSR_P_KEYSTONE'])


def connect(user, project):
    auth = v3.Password(auth_url=KS_URL, username=user, password=PW,
                       project_name=project, user_domain_id='default',
                       project_domain_id='default')
    return client.Client(session=session.Session(auth=auth))


ks = connect('admin', 'admin')
svc_proj = ks.projects.create('service', 'default', description='service users')
demo = ks.projects.create('demo', 'default', description='demo project')
roles = {r.name: r for r in ks.roles.list()}
for name in ('glance', 'nova', 'placement', 'neutron'):
    u = ks.users.create(name, domain='default', password=PW,
                        default_project=svc_proj)
    ks.roles.grant(roles['admin'], user=u, project=svc_proj)
u = ks.users.create('demo', domain='default', password=PW, default_project=demo)
ks.roles.grant(roles['member'], user=u, project=demo)
ks.roles.grant(roles['reader'], user=u, project=demo)
for typ, name, port, path in (
        ('image', 'glance', env['OSR_P_GLANCE'], ''),
        ('placement', 'placement', env['OSR_P_PLACEMENT'], ''),
        ('network', 'neutron', env['OSR_P_NEUTRON'], ''),
        ('compute', 'nova', env['OSR_P_NOVA'], '/v2.1')):
    s = ks.services.create(name, type=typ)
    for itf in ('public', 'internal', 'admin'):
        ks.endpoints.create(s, 'http://%s:%s%s' % (H, port, path),
                            interface=itf, region='RegionOne')

# The demo user's application credential (scoped to project demo, with the
# user's roles there: member, reader). A new random secret on every up.
demo_ks = connect('demo', 'demo')
secret = secrets.token_hex(24)
ac = demo_ks.application_credentials.create(
    env['OSR_APPCRED_NAME'], user=u.id, secret=secret,
    description='osrunner test cloud: demo application credential')
fd = os.open(env['OSR_APPCRED_OUT'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
             0o600)
with os.fdopen(fd, 'w') as f:
    json.dump({'id': ac.id, 'name': ac.name, 'secret': secret,
               'user_id': u.id, 'project_id': demo.id}, f)
print('catalog created; application credential', ac.name, ac.id)
