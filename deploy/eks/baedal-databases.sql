-- baedal's databases and users on `baedal-db` (deploy/README.md, step 2). Run once, as the RDS
-- master user, from a host inside the VPC:
--
--   psql "host=$BAEDAL_DB user=postgres dbname=postgres sslmode=verify-full sslrootcert=global-bundle.pem" \
--     -v ON_ERROR_STOP=1 -v readmodel_password=… -v payment_password=… -v notify_password=… \
--     -f deploy/eks/baedal-databases.sql
--
-- One database and one user per store, each user owning its database and nothing else: the
-- read model, the payment ledger and the notification store are separate services, and no
-- role can read another's data. `baedal migrate` (the migration Job) creates and alters the
-- tables as each owner, which PostgreSQL 15 and later let only the database owner do in
-- `public`; no user can create databases or roles. As for Temporal's (databases.sql there),
-- the master takes membership in each role to create its database OWNER it (RDS's master is
-- not a superuser), and no role but the owner may connect.

CREATE ROLE baedal_readmodel LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'readmodel_password';
CREATE ROLE baedal_payment LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'payment_password';
CREATE ROLE baedal_notify LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'notify_password';
GRANT baedal_readmodel, baedal_payment, baedal_notify TO CURRENT_USER;

CREATE DATABASE baedal_readmodel OWNER baedal_readmodel;
CREATE DATABASE baedal_payment OWNER baedal_payment;
CREATE DATABASE baedal_notify OWNER baedal_notify;
REVOKE ALL ON DATABASE baedal_readmodel FROM PUBLIC;
REVOKE ALL ON DATABASE baedal_payment FROM PUBLIC;
REVOKE ALL ON DATABASE baedal_notify FROM PUBLIC;
