/**
 * Application errors a procedure declares (`errors` in `procedure`): what a handler throws is checked
 * against the declaration before it goes on the wire, so a client only ever sees declared codes with
 * data their schema accepted, or the protocol's own codes.
 * @module
 */
import * as v from "valibot";
import type { ErrorSchemas } from "../shared/contract.ts";
import { isProtocolCode, RpcError } from "../shared/errors.ts";
import type { Logger } from "./log.ts";

/**
 * What a procedure's failure becomes on the wire: anything but an RpcError, or one with a protocol
 * code, is returned as is; a declared code comes back with its data validated (the schema's output);
 * an undeclared code or data its schema refuses becomes INTERNAL and a warn log (nothing unvalidated leaks).
 */
export function checkDeclared(error: unknown, errors: ErrorSchemas | undefined, method: string, logger: Logger): unknown {
  if (!(error instanceof RpcError) || isProtocolCode(error.code)) return error;
  const schema = errors !== undefined && Object.hasOwn(errors, error.code) ? errors[error.code] : undefined;
  if (schema === undefined) {
    logger.warn("procedure threw an undeclared error code", { method, code: error.code });
    return new RpcError("INTERNAL", `Procedure "${method}" failed with an undeclared error code`);
  }
  const checked = v.safeParse(schema, error.data);
  if (!checked.success) {
    logger.warn("procedure threw an error whose data failed validation", { method, code: error.code, issue: checked.issues[0].message });
    return new RpcError("INTERNAL", `Procedure "${method}" failed with invalid error data`);
  }
  return new RpcError(error.code, error.message, checked.output);
}
