-- The rdonly replica of source-primary, by GTID auto-position; it retries until the primary answers.
CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'source-primary', SOURCE_USER = 'root', SOURCE_PASSWORD = '',
  SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1, SOURCE_CONNECT_RETRY = 2;
START REPLICA;
