import {
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type PrimitiveValueListNode,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  type ValueNode,
} from "kysely";

/**
 * What stands for U+0000 on PostgreSQL, whose text cannot hold it (SQLite's can). The replacement
 * character: it says something was there, and no value Berth stores contains NUL (its inputs refuse
 * it), so only hostile lookups meet it.
 */
export const NUL_STAND_IN = "\uFFFD";

const withoutNul = (v: unknown): unknown =>
  typeof v === "string" && v.includes("\0") ? v.replaceAll("\0", NUL_STAND_IN) : v;

class NulTransformer extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const value = withoutNul(node.value);
    return value === node.value ? node : { ...node, value };
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return node.values.some((v) => withoutNul(v) !== v)
      ? { ...node, values: node.values.map(withoutNul) }
      : node;
  }
}

/**
 * Parameters go to PostgreSQL without U+0000, which it refuses in text ("invalid byte sequence"): a
 * NUL in a path or a sign-in name must find nothing, as on SQLite, not fail the call.
 */
export class PostgresTextPlugin implements KyselyPlugin {
  readonly #transformer = new NulTransformer();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
