#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on the port of PIDCAR_LISTEN through
# bash's /dev/tcp, so the image needs no curl.  0 when pidcar answers 200.
listen=${PIDCAR_LISTEN:-127.0.0.1:9723}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
0.0.0.0 | "") host=127.0.0.1 ;;
:: ) host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 3 status <&3 || exit 1
case $status in
"HTTP/1."[01]" 200 "*) exit 0 ;;
esac
echo "pidcar /healthz: ${status%$'\r'}" >&2
exit 1
