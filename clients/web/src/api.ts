import type { DescService } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AccessService } from "../../../src/gen/berth/v1/access_service_pb.js";
import { AuditService } from "../../../src/gen/berth/v1/audit_service_pb.js";
import { AuthService } from "../../../src/gen/berth/v1/auth_service_pb.js";
import { BrokerService } from "../../../src/gen/berth/v1/broker_service_pb.js";
import { ConnectionService } from "../../../src/gen/berth/v1/connection_service_pb.js";
import { TokenService } from "../../../src/gen/berth/v1/token_service_pb.js";
import { UserService } from "../../../src/gen/berth/v1/user_service_pb.js";

const TOKEN_KEY = "berth.token";

/** The session token lives in this tab only (sessionStorage), never in a cookie or localStorage. */
export const session = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Called when the server says the token is no longer good: back to sign-in. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(fn: () => void) {
  onSignedOut = fn;
}

const bearer: Interceptor = (next) => async (req) => {
  const token = session.token;
  if (token) req.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(req);
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unauthenticated && token) {
      session.clear();
      onSignedOut();
    }
    throw err;
  }
};

// Connect over HTTP/1.1 or 2 with JSON: server streams (status, query rows) work over fetch.
const transport = createConnectTransport({ baseUrl: window.location.origin, interceptors: [bearer] });

function client<T extends DescService>(service: T): Client<T> {
  return createClient(service, transport);
}

export const api = {
  auth: client(AuthService),
  connections: client(ConnectionService),
  broker: client(BrokerService),
  access: client(AccessService),
  users: client(UserService),
  audit: client(AuditService),
  tokens: client(TokenService),
};
