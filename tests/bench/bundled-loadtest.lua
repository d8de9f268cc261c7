-- The default configuration (bundled plugins and scripts loaded) for tests/bench/extensions.sh,
-- with the rate limiter's limits raised out of reach: a load generator sends thousands of
-- messages a second from one address, which the default limits rightly refuse. The limiter
-- still checks every event; it just never says no.
plugin_options = {
  ratelimit = {
    socket_rate = 1e9, socket_burst = 1e9, user_rate = 1e9, user_burst = 1e9,
    address_rate = 1e9, address_burst = 1e9,
    socket_bytes_rate = 1e12, socket_bytes_burst = 1e12, user_bytes_rate = 1e12,
    user_bytes_burst = 1e12, address_bytes_rate = 1e12, address_bytes_burst = 1e12,
    connect_per_minute = 1e9, connect_burst = 1e9,
  },
}
