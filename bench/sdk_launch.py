"""The old module's way, for bench/launch.sh: openstacksdk, one server at a
time, each created and waited for before the next (create_server with
wait=True). Networks "none" needs compute 2.37, which the cloud layer's
create_server cannot ask for, so this uses the proxy layer's create_server
and wait_for_server, which is what create_server(wait=True) does inside."""
import sys

import openstack

cloud, prefix, count, image, flavor = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = openstack.connect(cloud=cloud, compute_api_version="2.37")
image_id = conn.image.find_image(image, ignore_missing=False).id
flavor_id = conn.compute.find_flavor(flavor, ignore_missing=False).id
for i in range(1, count + 1):
    server = conn.compute.create_server(
        name="%s-%d" % (prefix, i), image_id=image_id, flavor_id=flavor_id,
        networks="none", metadata={"managed-by": "osrunner-bench"},
        user_data="I2Nsb3VkLWNvbmZpZwo=")
    conn.compute.wait_for_server(server, status="ACTIVE", wait=600)
