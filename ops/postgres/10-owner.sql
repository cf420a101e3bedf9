-- The migration owner for docker-compose.yml, run once by the postgres image on a new volume:
-- a role that owns the database and its schema and may create the processes' roles
-- (models/roles.py), but is no superuser. Its name and password are those of the DATABASE_URL
-- secret (postgresql+psycopg://NAME:PASSWORD@postgres:5432/dravo), read by psql itself, so they
-- appear on no command line.
\set url `cat /run/secrets/DATABASE_URL`
SELECT substring(:'url' FROM '^[^:]+://([^:@/]+):') AS owner,
       substring(:'url' FROM '^[^:]+://[^:@/]+:([^@]*)@') AS password \gset
SELECT format('CREATE ROLE %I LOGIN CREATEROLE PASSWORD %L', :'owner', :'password') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), :'owner') \gexec
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner') \gexec
