import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { ENUM_FIELDS } from "../rest-json.js";

export type JsonSchema = Record<string, unknown>;

const INT32 = { type: "integer", minimum: -2147483648, maximum: 2147483647 };
const UINT32 = { type: "integer", minimum: 0, maximum: 4294967295 };
// protobuf JSON takes 64-bit integers as numbers or decimal strings.
const INT64 = { oneOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] };

const SCALARS: Partial<Record<ScalarType, JsonSchema>> = {
  [ScalarType.STRING]: { type: "string" },
  [ScalarType.BOOL]: { type: "boolean" },
  [ScalarType.BYTES]: { type: "string", contentEncoding: "base64" },
  [ScalarType.DOUBLE]: { type: "number" },
  [ScalarType.FLOAT]: { type: "number" },
  [ScalarType.INT32]: INT32,
  [ScalarType.SINT32]: INT32,
  [ScalarType.SFIXED32]: INT32,
  [ScalarType.UINT32]: UINT32,
  [ScalarType.FIXED32]: UINT32,
};

/** Well-known types with a JSON form of their own. */
const WELL_KNOWN: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" },
  "google.protobuf.Struct": { type: "object" },
};

/**
 * The JSON Schema of a protobuf message as REST reads it (messageFromRestJson: protobuf JSON names,
 * the RFC's enum spellings for the fields that have them, unknown fields refused). Used for the
 * bodies a route reads as a message, and for the query parameters of a GET, which name the fields
 * of its request message. `omit` leaves out the fields the path supplies.
 */
export function messageJsonSchema(message: DescMessage, omit: ReadonlySet<string> = new Set()): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const field of message.fields) {
    if (omit.has(field.jsonName) || omit.has(field.localName)) continue;
    properties[field.jsonName] = fieldSchema(field, new Set([message.typeName]));
  }
  return { type: "object", properties, additionalProperties: false };
}

function fieldSchema(field: DescField, seen: Set<string>): JsonSchema {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return enumSchema(field);
    case "message":
      return nestedSchema(field.message, seen);
    case "list":
      return {
        type: "array",
        items:
          field.listKind === "scalar"
            ? scalarSchema(field.scalar)
            : field.listKind === "enum"
              ? enumSchema(field)
              : nestedSchema(field.message, seen),
      };
    case "map":
      return {
        type: "object",
        additionalProperties:
          field.mapKind === "scalar"
            ? scalarSchema(field.scalar)
            : field.mapKind === "enum"
              ? { type: "string" }
              : nestedSchema(field.message, seen),
      };
  }
}

function scalarSchema(scalar: ScalarType): JsonSchema {
  return SCALARS[scalar] ?? INT64;
}

function enumSchema(field: DescField): JsonSchema {
  const rest = ENUM_FIELDS[field.jsonName];
  if (rest) return { type: "string", enum: Object.keys(rest) };
  const values = field.enum?.values.map((v) => v.name) ?? [];
  return { type: "string", enum: values };
}

function nestedSchema(message: DescMessage, seen: Set<string>): JsonSchema {
  const known = WELL_KNOWN[message.typeName];
  if (known) return known;
  // A message that contains itself is described as an object from its second level on.
  if (seen.has(message.typeName)) return { type: "object" };
  const properties: Record<string, JsonSchema> = {};
  const inner = new Set([...seen, message.typeName]);
  for (const field of message.fields) properties[field.jsonName] = fieldSchema(field, inner);
  return { type: "object", properties, additionalProperties: false };
}
