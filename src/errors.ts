/**
 * The error tree of netanomaly. Every error the library throws on purpose is a NetanomalyError, so a
 * shell (CLI, web server) catches the base class once and prints `Name: message` on one line.
 *
 * NetanomalyError
 * ├── InputError          bad user input (a file, a row, an option)
 * │   ├── ParseError      content that cannot be parsed (names the file and line)
 * │   ├── SchemaError     columns or fields that do not match what is expected (with a diff)
 * │   └── UnsupportedFormatError
 * ├── ModelFileError      a model bundle that is missing, tampered, truncated or not a model
 * ├── NotFittedError      an estimator used before `fit`
 * ├── OptionError         an option outside its allowed range (scikit-learn's message template)
 * ├── BackendUnavailableError  a compute engine that cannot be loaded here
 * └── SelfTestError       a pipeline self-test that did not see its injected attack come out
 */
export class NetanomalyError extends Error {
  override name = 'NetanomalyError';
}
export class InputError extends NetanomalyError {
  override name = 'InputError';
}
export class ParseError extends InputError {
  override name = 'ParseError';
}
export class SchemaError extends InputError {
  override name = 'SchemaError';
}
export class UnsupportedFormatError extends InputError {
  override name = 'UnsupportedFormatError';
}
export class ModelFileError extends NetanomalyError {
  override name = 'ModelFileError';
}
export class NotFittedError extends NetanomalyError {
  override name = 'NotFittedError';
}
export class OptionError extends NetanomalyError {
  override name = 'OptionError';
}
export class BackendUnavailableError extends NetanomalyError {
  override name = 'BackendUnavailableError';
}

/** scikit-learn's parameter message: "The 'k' option of KMeans must be an integer >= 1. Got 0 instead." */
export function optionError(owner: string, option: string, constraint: string, got: unknown): OptionError {
  return new OptionError(
    `The '${option}' option of ${owner} must be ${constraint}. Got ${JSON.stringify(got)} instead.`,
  );
}

export class SelfTestError extends NetanomalyError {
  override name = 'SelfTestError';
}
