-- When: to check an enrolment: RSA_PUBLIC_KEY_FP / RSA_PUBLIC_KEY_2_FP must equal the fingerprint
--       icebroker shows, and LOGIN_NAME must equal the connection's user. NAME (used in ALTER
--       USER) and LOGIN_NAME (used in the JWT) can differ: if ALTER USER says the user does not
--       exist, run SHOW USERS LIKE '<login>' and use its "name" column.
-- As:   any role that can describe the user.
DESC USER {{user}};
