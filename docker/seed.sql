-- Demo data for the compose sandbox: every table has the sharding column keyspace_id (BIGINT UNSIGNED).
CREATE DATABASE commerce;
USE commerce;
CREATE TABLE customer (
  customer_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  keyspace_id BIGINT UNSIGNED NOT NULL,
  email VARCHAR(128) CHARACTER SET utf8mb4 NOT NULL,
  created DATETIME(6) NOT NULL,
  balance DECIMAL(12,2) NOT NULL,
  KEY email (email)
);
CREATE TABLE corder (
  order_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id BIGINT NOT NULL,
  keyspace_id BIGINT UNSIGNED NOT NULL,
  sku VARBINARY(32) NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  status ENUM('new','paid','shipped') NOT NULL,
  note TEXT NULL,
  KEY customer (customer_id)
);
SET SESSION cte_max_recursion_depth = 1000000;
INSERT INTO customer (customer_id, keyspace_id, email, created, balance)
  WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 200000)
  SELECT n, CAST(CONV(SUBSTRING(MD5(n), 1, 16), 16, 10) AS UNSIGNED), CONCAT('user', n, '@example.com'),
         '2026-01-01 00:00:00.000000' + INTERVAL n SECOND, n % 10000 / 100 FROM seq;
INSERT INTO corder (order_id, customer_id, keyspace_id, sku, price, status, note)
  SELECT customer_id, customer_id, keyspace_id, UNHEX(MD5(customer_id)), balance, ELT(1 + customer_id % 3, 'new', 'paid', 'shipped'), NULL FROM customer;
CREATE VIEW customer_emails AS SELECT customer_id, keyspace_id, email FROM customer;
