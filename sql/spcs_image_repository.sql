-- Create the image repository that holds icebroker's container image (Snowpark Container Services)
--
-- When: first step of running icebroker inside Snowflake with Snowpark Container Services.
-- As:   a role with CREATE IMAGE REPOSITORY on the schema (e.g. the role that will own the
--       service; names must be unquoted: SPCS does not accept quoted names).
-- Then: SHOW IMAGE REPOSITORIES shows repository_url; docker login <registry host> (with a
--       Snowflake user), docker tag icebroker <repository_url>/icebroker:<tag>, docker push;
--       SHOW IMAGES IN IMAGE REPOSITORY lists it. Then run spcs_compute_pool.
--
-- @param spcs_database name Database for icebroker's objects in Snowflake.
-- @param spcs_schema name default=APP Schema for icebroker's objects.
-- @param image_repository name default=IMAGES The image repository.
CREATE DATABASE IF NOT EXISTS {{spcs_database}};

CREATE SCHEMA IF NOT EXISTS {{spcs_database}}.{{spcs_schema}};

CREATE IMAGE REPOSITORY IF NOT EXISTS {{spcs_database}}.{{spcs_schema}}.{{image_repository}};

SHOW IMAGE REPOSITORIES IN SCHEMA {{spcs_database}}.{{spcs_schema}};
