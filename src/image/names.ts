/**
 * Image names in an OCI layout's index.json, as gantry writes and reads them (its store and the
 * layouts it exports): `org.opencontainers.image.ref.name` holds the familiar name ("app:1.0"), so
 * `skopeo inspect oci:DIR:app:1.0` finds it, and `io.containerd.image.name` the full one.
 */
import { familiarReference, formatReference, parseReference } from './reference.js';
import { Annotation, type Descriptor } from './types.js';

/** A full image name with a tag, or undefined when `text` is not one. */
export function imageNameFrom(text: string): string | undefined {
  try {
    const ref = parseReference(text);
    return ref.tag === undefined ? undefined : formatReference({ ...ref, digest: undefined });
  } catch {
    return undefined;
  }
}

/** The descriptor without the annotations that carry names. */
export function withoutNames(descriptor: Descriptor): Descriptor {
  const { annotations, ...rest } = descriptor;
  if (!annotations) return rest;
  const kept = { ...annotations };
  delete kept[Annotation.refName];
  delete kept[Annotation.imageName];
  return Object.keys(kept).length > 0 ? { ...rest, annotations: kept } : rest;
}

/** The descriptor annotated with a full image name. */
export function namedDescriptor(root: Descriptor, name: string): Descriptor {
  const plain = withoutNames(root);
  return {
    ...plain,
    annotations: {
      ...plain.annotations,
      [Annotation.imageName]: name,
      [Annotation.refName]: familiarReference(parseReference(name)),
    },
  };
}

/**
 * The full name an index.json entry carries, from io.containerd.image.name or else ref.name (tools
 * other than gantry may record only a tag: "latest" reads as "latest:latest"). `unusable` collects
 * annotations that are not image names.
 */
export function nameFromAnnotations(entry: Descriptor, unusable?: string[]): string | undefined {
  const full = entry.annotations?.[Annotation.imageName];
  if (full) {
    const name = imageNameFrom(full);
    if (name) return name;
    unusable?.push(full);
  }
  const refName = entry.annotations?.[Annotation.refName];
  if (!refName) return undefined;
  const name = imageNameFrom(refName);
  if (!name) unusable?.push(refName);
  return name;
}
