-- Temporal's databases and user on `temporal-db` (deploy/README.md, step 2). Run once, as the
-- RDS master user, from a pod or bastion inside the VPC:
--
--   psql "host=$TEMPORAL_DB user=postgres dbname=postgres sslmode=verify-full sslrootcert=global-bundle.pem" \
--     -v ON_ERROR_STOP=1 -v temporal_password="$TEMPORAL_DB_PASSWORD" -f deploy/temporal/databases.sql
--
-- Temporal's chart does not create databases here: deploy/temporal/values.yaml sets
-- `createDatabase: false` on both datastores (deploy/check insists), because creating them would
-- take CREATEDB, which `temporal` must not have. Its schema job (`manageSchema`, on every
-- `helm install` and `helm upgrade`) then creates and upgrades the tables as `temporal`.
--
-- What `temporal` can do, and why that is all it needs:
-- - log in, and nothing else at role level: NOCREATEDB, NOCREATEROLE, not a superuser, no
--   membership in rds_superuser;
-- - own `temporal` and `temporal_visibility`: the schema job creates and alters tables in their
--   `public` schema, which PostgreSQL 15 and later let only the database owner do (the schema
--   `public` belongs to pg_database_owner), and the server reads and writes those tables;
-- - nothing on any other database (there is none on this instance but `postgres`, which it may
--   connect to like any role, and cannot create in).
-- The visibility schema needs the btree_gin extension; it is created here so that the schema
-- job finds it (its scripts create it only when missing; btree_gin is a trusted extension, so
-- the owner could, but one less thing the job does at install).
-- Checked on PostgreSQL 15 with a non-superuser master holding CREATEROLE and CREATEDB, like
-- RDS's: the schema of Temporal 1.31.2 applies as `temporal`, and `CREATE DATABASE` as
-- `temporal` fails with 42501 (deploy/README.md, "What CI checks").

CREATE ROLE temporal LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'temporal_password';

-- CREATE DATABASE ... OWNER needs the caller to be able to act as the owner (PostgreSQL 16:
-- SET ROLE), and RDS's master is not a superuser: it takes membership in `temporal` (it holds
-- ADMIN on the role it just created). It keeps it: the master can change any role on RDS
-- anyway, and membership is what lets it manage these databases later (below, and upgrades).
GRANT temporal TO CURRENT_USER;

CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
-- Only the owner (and, through it, the master) may connect: a role added to this instance later
-- does not reach Temporal's data by default.
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;

\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
