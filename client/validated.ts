/**
 * `validated`: lets a client that imports the contract itself (not only its type) check the
 * server's input with the procedure's schema before its implementation runs, as a server checks a
 * client's call. Only code that uses it pays for it: the schemas come from the contract passed in.
 * @module
 */
import type { GenericSchema } from "valibot";
import type { AnyProcedure } from "../shared/contract.ts";
import type { HandlerInput, HandlerOutput } from "../shared/contract-types.ts";
import { RpcError } from "../shared/errors.ts";
import type { Implementation, ImplementationContext } from "./implementations.ts";

/**
 * Wraps an implementation so that the input is validated by the procedure's input schema first
 * (through the schema's Standard Schema interface, so the client needs no schema library of its
 * own): a refused input is answered `INVALID_INPUT` with `data.issues` (paths and messages), and
 * the implementation receives the schema's output, transforms applied, as a server handler does.
 * @param procedure the procedure's definition, e.g. `contract.client.confirm`
 * @param implementation the implementation of the validated input
 * @example
 * createClient<typeof contract>(url, {
 *   implement: { confirm: validated(contract.client.confirm, ({ question }) => ({ ok: question.length > 0 })) },
 * });
 */
export function validated<P extends AnyProcedure>(
  procedure: P,
  implementation: (input: HandlerInput<P>, ctx: ImplementationContext) => HandlerOutput<P> | Promise<HandlerOutput<P>>,
): Implementation<P> {
  return async (input, ctx) => {
    const schema: GenericSchema | undefined = procedure.input;
    if (schema === undefined) return await implementation(input as HandlerInput<P>, ctx);
    const result = await schema["~standard"].validate(input);
    if (result.issues !== undefined) {
      const issues = result.issues.map((issue) => ({
        path: (issue.path ?? []).map((item) => {
          const key = typeof item === "object" && item !== null ? item.key : item;
          return typeof key === "number" ? key : String(key);
        }),
        message: issue.message,
      }));
      throw new RpcError("INVALID_INPUT", "Input failed validation on the client", { issues });
    }
    return await implementation(result.value as HandlerInput<P>, ctx);
  };
}
