import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import { asBerthError, isServerFault, toConnectError } from "../../errors/mapping.js";
import type { Logger } from "../../observability/logger.js";
import { requestInfoKey } from "../request-info.js";

/**
 * Turns whatever a handler throws into a ConnectError carrying ErrorInfo (DESIGN §2 rule 4). The
 * real cause of a server fault goes to the log with the request id; the client gets a safe message.
 */
export function errorInterceptor(
  log: Logger,
  countError?: (kind: string, reason: string, method: string) => void,
): Interceptor {
  return (next) => async (req) => {
    const { requestId } = req.contextValues.get(requestInfoKey);
    const convert = (err: unknown) => {
      const berth = asBerthError(err, req.signal);
      const reason = typeof berth.details.reason === "string" ? berth.details.reason : "";
      countError?.(berth.kind, reason, `${req.service.typeName}/${req.method.name}`);
      if (isServerFault(berth))
        log.error({ request_id: requestId, err: berth.cause ?? berth }, "request failed with a server fault");
      return toConnectError(berth, requestId);
    };
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: convertStream(res, convert) } as StreamResponse;
    } catch (err) {
      throw convert(err);
    }
  };
}

async function* convertStream(res: StreamResponse, convert: (err: unknown) => Error) {
  try {
    yield* res.message;
  } catch (err) {
    throw convert(err);
  }
}
