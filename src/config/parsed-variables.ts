import type { z } from "zod";

/**
 * The parsed values of one group of variables. Each settings module declares its own group (a piece
 * of the one schema config.ts assembles) and reads only the groups it names, so that no module needs
 * the whole schema's type (which would make config.ts and its parts depend on each other).
 */
export type ParsedVariables<S extends z.ZodRawShape> = z.infer<z.ZodObject<S>>;
