-- run once by tests/cloud/up against the fresh private MariaDB (root via socket)
CREATE USER 'openstack'@'@HOST@' IDENTIFIED BY '@PASSWORD@';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'@HOST@';
CREATE DATABASE keystone;
CREATE DATABASE glance;
CREATE DATABASE placement;
CREATE DATABASE neutron;
CREATE DATABASE nova_api;
CREATE DATABASE nova;
CREATE DATABASE nova_cell0;
