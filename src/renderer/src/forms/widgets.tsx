/**
 * What the forms are built from that the app supplies at run time: the method tables (tests give
 * tables with extra rows) and the path input (the app's PathField, with Browse…; a plain text field
 * where none is given, e.g. when a form is rendered outside the app).
 */
import { createContext, useContext, type ComponentType } from 'react';
import { JUDGES, type JudgeTable } from '../../../shared/eval';
import { SELECTION_METHODS, type SelectionMethodTable } from '../../../shared/select';
import { TRAIN_METHODS, type TrainMethodTable } from '../../../shared/train';
import { TextField } from '../components/ui';

export interface MethodTables {
  train: TrainMethodTable;
  select: SelectionMethodTable;
  judges: JudgeTable;
}

export const SHIPPED_TABLES: MethodTables = { train: TRAIN_METHODS, select: SELECTION_METHODS, judges: JUDGES };

export const MethodTablesContext = createContext<MethodTables>(SHIPPED_TABLES);

/** The method tables the forms offer. */
export function useMethodTables(): MethodTables {
  return useContext(MethodTablesContext);
}

export interface PathInputProps {
  label: string;
  hint?: string;
  error?: string | null;
  value: string;
  placeholder?: string;
  kind: 'file' | 'folder';
  onChange: (value: string) => void;
}

function PlainPathInput({ kind: _kind, onChange, ...field }: PathInputProps) {
  return <TextField {...field} onChange={(e) => onChange(e.target.value)} />;
}

export const PathInputContext = createContext<ComponentType<PathInputProps>>(PlainPathInput);
