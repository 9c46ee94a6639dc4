/**
 * How a deployment's `config` reaches a replica process as environment variables, the way model
 * servers expect it: `MODEL_CONFIG_JSON` holds the whole object as JSON; `PREDICTIVE_UNIT_PARAMETERS`
 * is a Seldon-style JSON list `[{name, value, type}]` of the scalar top-level keys, `value` always a
 * string and `type` one of INT | FLOAT | DOUBLE | STRING | BOOL (integers are INT, other finite
 * numbers DOUBLE; objects, arrays, null and non-finite numbers are left out of the list).
 */

export type SeldonParameterType = 'INT' | 'FLOAT' | 'DOUBLE' | 'STRING' | 'BOOL';

export interface SeldonParameter {
  name: string;
  value: string;
  type: SeldonParameterType;
}

export interface ModelConfigEnv {
  MODEL_CONFIG_JSON: string;
  PREDICTIVE_UNIT_PARAMETERS: string;
}

/** The Seldon parameter list of a deployment config (scalar top-level keys, in key order). */
export function predictiveUnitParameters(config: Record<string, unknown>): SeldonParameter[] {
  const out: SeldonParameter[] = [];
  for (const [name, v] of Object.entries(config)) {
    if (typeof v === 'string') out.push({ name, value: v, type: 'STRING' });
    else if (typeof v === 'boolean') out.push({ name, value: String(v), type: 'BOOL' });
    else if (typeof v === 'number' && Number.isFinite(v)) out.push({ name, value: String(v), type: Number.isInteger(v) ? 'INT' : 'DOUBLE' });
  }
  return out;
}

/** The two variables a runtime sets on every replica it starts. */
export function modelConfigEnv(config: Record<string, unknown>): ModelConfigEnv {
  return {
    MODEL_CONFIG_JSON: JSON.stringify(config),
    PREDICTIVE_UNIT_PARAMETERS: JSON.stringify(predictiveUnitParameters(config)),
  };
}
