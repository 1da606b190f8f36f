/**
 * The progress labels of a stage's steps, as BuildKit names its vertices: "[build 2/5] RUN make" for the
 * steps that do work (FROM of an image, RUN, COPY, ADD, WORKDIR and ONBUILD triggers counted), and the
 * stage name alone for the steps that only change the config.
 */
export class StageLabels {
  /**
   * `name` is the stage name, "stage-N", or "" for a lone stage; `total` the steps counted; `done` those
   * already labelled (1 when the FROM of an image counts as the first).
   */
  constructor(
    readonly name: string,
    private readonly total: number,
    private done: number,
  ) {}

  /** The label of the next counted step. */
  next(text: string, fromOnBuild: boolean): string {
    if (this.total === 0) return text;
    this.done++;
    return `${this.prefix(this.done)}${fromOnBuild ? 'ONBUILD ' : ''}${text}`;
  }

  /** The label of a step that only changes the config. */
  plain(text: string, fromOnBuild: boolean): string {
    const onbuild = fromOnBuild ? 'ONBUILD ' : '';
    return this.name === '' ? `${onbuild}${text}` : `[${this.name}] ${onbuild}${text}`;
  }

  /** The label of the stage's FROM step, e.g. "[build 1/4] FROM docker.io/library/alpine:3.20@sha256:…". */
  from(base: string): string {
    return this.total === 0 ? `FROM ${base}` : `${this.prefix(1)}FROM ${base}`;
  }

  private prefix(index: number): string {
    const width = String(this.total).length;
    const stage = this.name === '' ? '' : `${this.name} `;
    return `[${stage}${String(index).padStart(width)}/${this.total}] `;
  }
}
