/**
 * One line of advice per failure reason, shown next to the failed stage. Kept in one table so the
 * wording stays consistent and every reason a driver can produce has an answer.
 */
export const REMEDIES: Readonly<Record<string, string>> = {
  invalid_configuration: "Fix the fields listed in the details and try again.",
  credential_integrity_failed:
    "The stored credential cannot be decrypted; set the username and password again.",
  unsupported_engine: "This Berth build has no driver for this engine yet.",
  host_not_found: "Check the host name for typos, and that Berth's machine can resolve it (DNS, /etc/hosts).",
  dns_unavailable: "DNS did not answer; check the resolver configuration of Berth's machine, then retry.",
  connection_refused:
    "Nothing accepts connections on that host and port: check the port, that the server runs, and that it listens on the network (listen_addresses, bind-address).",
  host_unreachable: "There is no route to the host: check the network path, firewalls and security groups.",
  timeout:
    "The server did not answer in time: check for firewalls that drop packets, that the port belongs to the database, and raise the timeout if the server is slow.",
  connection_reset:
    "The server closed the connection: check its log; it may reject this client's address or protocol settings.",
  protocol_error:
    "The server did not speak the expected protocol: check that the port belongs to this engine.",
  tls_not_offered:
    "The server does not offer TLS: enable TLS on the server, or lower sslMode to prefer or disable.",
  tls_required: "The server requires TLS: set sslMode to require, verify-ca or verify-full.",
  tls_unknown_ca:
    "The server certificate is not signed by a trusted CA: set caCertificate to the CA that signed it, or use sslMode require.",
  tls_name_mismatch:
    "The server certificate does not name this host: connect by a name in the certificate, set tlsServerName, or use verify-ca.",
  tls_certificate_expired:
    "The server certificate is expired or not yet valid: renew it on the server and check clocks.",
  tls_failed:
    "The TLS handshake failed: check the server's TLS configuration and the sslMode, CA and client certificate.",
  authentication_failed:
    "The server rejected the user name or password: check both, and that the server lets this user sign in from Berth's address.",
  database_not_found:
    "That database does not exist on the server: check its name (PostgreSQL names are case-sensitive).",
  permission_denied:
    "The user may not use this database, or it does not exist (MySQL does not say which): check the name, and grant CONNECT (PostgreSQL) or privileges on it (MySQL).",
  too_many_connections:
    "The server is at its connection limit: lower pool sizes or raise max_connections on the server.",
  host_not_allowed:
    "The server does not accept this user from Berth's address: add a grant for user@<Berth's host>.",
  host_blocked: "The server blocked Berth's address after many errors: run FLUSH HOSTS on the server.",
  server_starting: "The server is starting up: retry in a few seconds.",
  server_shutting_down: "The server is shutting down: retry once it is back.",
  connection_rejected: "The server rejected the connection: check its log for the reason.",
  server_error: "The server refused the connection: see the message and the server's log.",
  account_locked:
    "The account is locked on the server: unlock it (ALTER LOGIN ... UNLOCK, ALTER USER ... ACCOUNT UNLOCK).",
  account_disabled: "The login is disabled on the server: enable it (ALTER LOGIN ... ENABLE).",
  password_expired: "The password has expired: set a new one on the server, then update this connection.",
  instance_not_found:
    "The SQL Server Browser (UDP 1434) did not give a port for that instance: check the instance name, that the Browser service runs and UDP 1434 is open, or set the port instead.",
  service_not_found:
    "The listener does not know that service or SID: check the name (lsnrctl services lists them), and that the database has registered with the listener.",
  server_unavailable: "The database instance is not running behind the listener: start it, then retry.",
  cleartext_password_refused:
    "The server asked for the password in clear text without TLS, so Berth did not send it: enable TLS (sslMode require or stricter), or set allowCleartextPassword on the connection if you accept that risk.",
  target_denied:
    "Berth's target policy does not allow connecting there: use a host it allows, or ask the operator to change BERTH_ALLOWED_TARGETS or BERTH_DENIED_TARGETS (link-local and cloud metadata addresses stay denied unless BERTH_ALLOWED_TARGETS names them exactly).",
  ssh_handshake_failed:
    "The SSH handshake failed: check that the ssh host and port belong to an SSH server (not the database), and that it accepts modern algorithms.",
  ssh_host_key_unknown:
    "No host key is pinned for this SSH server: compare the fingerprint shown with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the server), then set ssh.hostKey to the host_key shown and test again.",
  ssh_host_key_changed:
    "The SSH server's host key is not the pinned one: someone may be intercepting the connection, or the server was reinstalled. Confirm the new fingerprint with the server's administrator before setting ssh.hostKey to it (the credentials are asked for again).",
  ssh_auth_failed:
    "The SSH server rejected the sign-in: check ssh.user, that the public key of ssh.privateKey is in that user's authorized_keys (or the password), and the passphrase.",
  ssh_private_key_invalid:
    "The SSH private key cannot be read: give it in OpenSSH or PEM format (ed25519, ECDSA or RSA), with its passphrase if it is encrypted.",
  ssh_forward_failed:
    "Signed in to the SSH server, but it did not open the forward to the database: check that server and port are right as the SSH server sees them, and that sshd allows TCP forwarding (AllowTcpForwarding) for this user.",
  ssh_connection_lost:
    "The SSH connection dropped: check the SSH server and the network; Berth reopens the tunnel on the next session.",
  ssh_failed: "The SSH connection failed: see the message, and the SSH server's log (journalctl -u ssh).",
  query_failed: "Signed in, but the probe query failed: check the user's privileges.",
  unknown: "See the message, and the database server's log.",
};

export function remedyFor(reason: string): string {
  return REMEDIES[reason] ?? REMEDIES.unknown!;
}
